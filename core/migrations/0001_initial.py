"""AuditEvent and ConfigRevision, which lived in the project package until the layering.

On a database that already has them (tables gateway_admin_auditevent and
gateway_admin_configrevision), the tables are renamed and their content types moved,
so the audit trail and permissions survive the upgrade; on a new database they are
created. Role groups are synced after every migrate (accounts/apps.py).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

ADOPTED = {"auditevent": "AuditEvent", "configrevision": "ConfigRevision"}


def adopt_or_create(apps, schema_editor):
    existing = set(schema_editor.connection.introspection.table_names())
    for model_name, class_name in ADOPTED.items():
        model = apps.get_model("core", class_name)
        old_table = f"gateway_admin_{model_name}"
        if old_table in existing:
            schema_editor.alter_db_table(model, old_table, model._meta.db_table)
        else:
            schema_editor.create_model(model)
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model_name in ADOPTED:
        if not ContentType.objects.filter(app_label="core", model=model_name).exists():
            ContentType.objects.filter(app_label="gateway_admin", model=model_name).update(
                app_label="core"
            )


STATE = [
    migrations.CreateModel(
        name="AuditEvent",
        fields=[
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("actor_name", models.CharField(blank=True, max_length=150)),
            ("action", models.CharField(max_length=50)),
            ("object_type", models.CharField(max_length=50)),
            ("object_id", models.CharField(blank=True, max_length=50)),
            ("object_repr", models.CharField(blank=True, max_length=200)),
            ("before", models.JSONField(blank=True, null=True)),
            ("after", models.JSONField(blank=True, null=True)),
            ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
            ("actor", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
        ],
        options={"ordering": ["-created_at", "-id"]},
    ),
    migrations.CreateModel(
        name="ConfigRevision",
        fields=[
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("version", models.CharField(max_length=32)),
            ("changed_at", models.DateTimeField(auto_now=True)),
        ],
    ),
]


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=STATE),
        migrations.RunPython(adopt_or_create, migrations.RunPython.noop),
    ]
