from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_model_choice')]

    initial = False

    operations = [
        ops.AddField(
            model_name='UserRow',
            name='blocked',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.CreateModel(
            name='AuditRow',
            fields=[
                ('seq', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('id', fields.CharField(unique=True, max_length=36)),
                ('actor', fields.CharField(max_length=100)),
                ('action', fields.CharField(db_index=True, max_length=64)),
                ('target', fields.CharField(db_index=True, max_length=200)),
                ('before', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('after', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'audit_log', 'app': 'models', 'pk_attr': 'seq'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ConfigSeedRow',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=16)),
                ('key', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'config_seeds', 'app': 'models', 'unique_together': (('kind', 'key'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
