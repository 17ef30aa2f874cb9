from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_stored_files')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ConversationRow',
            name='model',
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AddField(
            model_name='RoleRow',
            name='model',
            field=fields.CharField(null=True, max_length=100),
        ),
    ]
