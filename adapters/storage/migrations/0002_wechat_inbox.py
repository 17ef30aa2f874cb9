from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WeChatInboxRow',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.CharField(max_length=64)),
                ('msg_key', fields.CharField(max_length=160)),
                ('openid', fields.CharField(db_index=True, max_length=128)),
                ('kind', fields.CharField(max_length=32)),
                ('text', fields.TextField(null=True, unique=False)),
                ('event', fields.CharField(default='', max_length=64)),
                ('event_key', fields.CharField(default='', max_length=256)),
                ('status', fields.CharField(default='answering', max_length=16)),
                ('attempts', fields.IntField(default=1)),
                ('claimed_by', fields.CharField(null=True, max_length=128)),
                ('lease_until', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'wechat_inbox', 'app': 'models', 'unique_together': (('account', 'msg_key'),), 'pk_attr': 'id', 'table_description': 'One accepted customer-service message: answered by the worker whose lease is current, or, after that'},
            bases=['Model'],
        ),
    ]
