"""The policy chain of an API (and an application's client addresses) in the REST API.

Singleton policies are GET / PUT / DELETE on one URL; transformations and targets
are collections. Reading needs the role that reads access policies, writing the
one that changes them (accounts/roles.py); writes go through policies/services.py.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.roles import Action
from apis.models import Api
from applications.models import Application
from policies import services
from policies.models import (
    ClientAddressPolicy,
    CorsPolicy,
    LoadBalancing,
    RequestLimits,
    Transformation,
    UpstreamTarget,
)
from rest_api.policies.serializers import (
    ApiClientAddressSerializer,
    ApplicationClientAddressSerializer,
    CorsPolicySerializer,
    LoadBalancingSerializer,
    RequestLimitsSerializer,
    TransformationSerializer,
    UpstreamTargetSerializer,
)
from rest_api.viewsets import AdminAPIMixin, ResourceViewSet

WRITE = {"put": Action.SAVE_POLICIES, "delete": Action.SAVE_POLICIES}


class _SingletonPolicyView(AdminAPIMixin, GenericAPIView):
    """GET, PUT (create or replace) and DELETE the one policy of its owner."""

    model = None
    owner_model = Api
    owner_field = "api"
    read_action = Action.VIEW_POLICIES
    role_actions = WRITE
    pagination_class = None
    filter_backends = []

    def get_queryset(self):
        return self.model.objects.all()

    def get_object(self):
        """The policy of the owner in the URL (DRF's OPTIONS metadata asks for it)."""
        policy = self.found(self.owner())
        if policy is None:
            raise NotFound("Not set up yet; PUT it.", code="policy_not_found")
        return policy

    def owner(self):
        return get_object_or_404(self.owner_model, pk=self.kwargs["pk"])

    def context(self, owner) -> dict:
        return {**self.get_serializer_context(), self.owner_field: owner}

    def found(self, owner):
        return self.model.objects.filter(**{self.owner_field: owner}).first()

    def get(self, request, pk):
        owner = self.owner()
        policy = self.found(owner)
        if policy is None:
            raise NotFound("Not set up yet; PUT it.", code="policy_not_found")
        return Response(self.get_serializer_class()(policy, context=self.context(owner)).data)

    def put(self, request, pk):
        owner = self.owner()
        policy = self.found(owner)
        serializer = self.get_serializer_class()(
            policy, data=request.data, context=self.context(owner)
        )
        serializer.is_valid(raise_exception=True)
        policy = policy or self.model(**{self.owner_field: owner})
        for name, value in serializer.validated_data.items():
            setattr(policy, name, value)
        services.save_policy(policy, request.user)
        return Response(self.get_serializer_class()(policy, context=self.context(owner)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk):
        policy = self.found(self.owner())
        if policy is None:
            raise NotFound("Not set up.", code="policy_not_found")
        services.delete_policy(policy, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CorsPolicyView(_SingletonPolicyView):
    model, serializer_class = CorsPolicy, CorsPolicySerializer


class ApiClientAddressView(_SingletonPolicyView):
    model, serializer_class = ClientAddressPolicy, ApiClientAddressSerializer


class ApplicationClientAddressView(_SingletonPolicyView):
    model, serializer_class = ClientAddressPolicy, ApplicationClientAddressSerializer
    owner_model, owner_field = Application, "application"
    read_action = Action.VIEW_APPLICATIONS
    role_actions = {"put": Action.CHANGE_APPLICATIONS, "delete": Action.CHANGE_APPLICATIONS}


class RequestLimitsView(_SingletonPolicyView):
    model, serializer_class = RequestLimits, RequestLimitsSerializer


class LoadBalancingView(_SingletonPolicyView):
    model, serializer_class = LoadBalancing, LoadBalancingSerializer


class _OfApiViewSet(ResourceViewSet):
    save_resource = staticmethod(services.save_policy)
    delete_resource = staticmethod(services.delete_policy)
    read_action = Action.VIEW_POLICIES
    role_actions = {
        "create": Action.SAVE_POLICIES,
        "partial_update": Action.SAVE_POLICIES,
        "destroy": Action.SAVE_POLICIES,
    }
    model = None

    def get_api(self) -> Api:
        if not hasattr(self, "_api"):
            self._api = get_object_or_404(Api, pk=self.kwargs["api_pk"])
        return self._api

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.model.objects.filter(api=self.get_api())

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["api"] = self.get_api()
        return context

    def save_kwargs(self) -> dict:
        return {"api": self.get_api()}


class TransformationViewSet(_OfApiViewSet):
    """The transformations of one API: /apis/{api_pk}/transformations/."""

    model, serializer_class = Transformation, TransformationSerializer
    ordering_fields = ["position", "id"]


class UpstreamTargetViewSet(_OfApiViewSet):
    """The load-balanced targets of one API, with their health: /apis/{api_pk}/targets/."""

    model, serializer_class = UpstreamTarget, UpstreamTargetSerializer
    ordering_fields = ["id", "url", "weight"]
