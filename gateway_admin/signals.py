"""Any change to gateway configuration moves the config version."""

from django.db.models.signals import m2m_changed, post_delete, post_save

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from applications.models import Application
from authservers.models import AuthorizationServer

from .config_version import bump_config_version

CONFIG_MODELS = (Api, Route, IdentifyAndAuthorizePolicy, Application, AuthorizationServer)


def _config_changed(sender, **kwargs) -> None:
    bump_config_version()


def connect() -> None:
    for model in CONFIG_MODELS:
        post_save.connect(_config_changed, sender=model, dispatch_uid=f"cfg-save-{model.__name__}")
        post_delete.connect(_config_changed, sender=model, dispatch_uid=f"cfg-del-{model.__name__}")
    for through in (
        Application.apis.through,
        IdentifyAndAuthorizePolicy.authorization_servers.through,
    ):
        m2m_changed.connect(_config_changed, sender=through, dispatch_uid=f"cfg-m2m-{through}")
