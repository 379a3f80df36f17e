from django.urls import path

from issuer import views

urlpatterns = [
    path("oauth2/token", views.TokenView.as_view(), name="oauth2-token"),
    path("oauth2/authorize", views.AuthorizationView.as_view(), name="oauth2-authorize"),
    path("oauth2/jwks", views.jwks, name="oauth2-jwks"),
    path("oauth2/login", views.LoginView.as_view(), name="oauth2-login"),
    path("oauth2/userinfo", views.UserInfoView.as_view(), name="oauth2-userinfo"),
    path("oauth2/introspect", views.IntrospectView.as_view(), name="oauth2-introspect"),
    path("oauth2/revoke", views.RevokeView.as_view(), name="oauth2-revoke"),
    path(
        ".well-known/openid-configuration", views.openid_configuration, name="openid-configuration"
    ),
    path(
        ".well-known/oauth-authorization-server",
        views.authorization_server_metadata,
        name="oauth-authorization-server",
    ),
]
