from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_user_locale')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ConversationInputsRow',
            fields=[
                ('conversation_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=36)),
                ('inputs', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'conversation_inputs', 'app': 'models', 'pk_attr': 'conversation_id', 'table_description': 'The `inputs` a chat-app conversation was started with (Dify keeps them for the whole conversation).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MessageFileRow',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message_id', fields.CharField(db_index=True, max_length=36)),
                ('file_id', fields.CharField(max_length=36)),
                ('position', fields.IntField(default=0)),
            ],
            options={'table': 'message_files', 'app': 'models', 'unique_together': (('message_id', 'file_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StoredFileRow',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=36)),
                ('owner_id', fields.CharField(db_index=True, max_length=36)),
                ('kind', fields.CharField(max_length=16)),
                ('mime', fields.CharField(max_length=100)),
                ('name', fields.CharField(max_length=255)),
                ('size', fields.BigIntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('source_url', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'stored_files', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
