from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_operator_console')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LlmProviderRow',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('base_url', fields.CharField(max_length=500)),
                ('api_key', fields.TextField(default='', unique=False)),
                ('key_hint', fields.CharField(default='', max_length=8)),
                ('timeout_seconds', fields.FloatField(default=60.0)),
                ('models', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'llm_providers', 'app': 'models', 'pk_attr': 'name', 'table_description': "Model providers an operator added over /api/v1/llm-providers (config.yaml's are not here)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UserLlmKeyRow',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.CharField(db_index=True, max_length=36)),
                ('provider', fields.CharField(max_length=64)),
                ('api_key', fields.TextField(unique=False)),
                ('key_hint', fields.CharField(max_length=8)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'user_llm_keys', 'app': 'models', 'unique_together': (('user_id', 'provider'),), 'pk_attr': 'id', 'table_description': 'API keys users brought for a provider (/api/v1/me/llm-keys), encrypted at rest.'},
            bases=['Model'],
        ),
    ]
