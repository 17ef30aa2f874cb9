from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_llm_providers')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChatSettingRow',
            fields=[
                ('chat_key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=200)),
                ('reply_to', fields.CharField(max_length=16)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'chat_settings', 'app': 'models', 'pk_attr': 'chat_key', 'table_description': "Per-chat settings a chat's admin chose (/mode: answer every message or only mentions)."},
            bases=['Model'],
        ),
    ]
