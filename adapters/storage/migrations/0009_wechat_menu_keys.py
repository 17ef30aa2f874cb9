from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_chat_settings')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MenuKeyRow',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=100)),
                ('action', fields.CharField(max_length=500)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'wechat_menu_keys', 'app': 'models', 'pk_attr': 'key', 'table_description': 'What each WeChat menu CLICK key runs (config.yaml seeds keys never seen).'},
            bases=['Model'],
        ),
    ]
