"""The policy chain page of an API: its stages, one form per policy, targets with health."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import Action
from apis.models import Api
from console.access import role_required
from console.common import apply_errors
from console.forms.policies import (
    AddressForm,
    BalancingForm,
    CorsForm,
    LimitsForm,
    TargetForm,
    TransformationForm,
)
from policies import services
from policies.models import (
    ClientAddressPolicy,
    CorsPolicy,
    LoadBalancing,
    RequestLimits,
    Transformation,
    UpstreamTarget,
)
from policies.target_state import states

# kind in the URL → (model, form, title)
SINGLETONS = {
    "cors": (CorsPolicy, CorsForm, "CORS"),
    "client-addresses": (ClientAddressPolicy, AddressForm, "Client addresses"),
    "request-limits": (RequestLimits, LimitsForm, "Request limits"),
    "load-balancing": (LoadBalancing, BalancingForm, "Load balancing"),
}


def _chain_url(api: Api, anchor: str = "") -> str:
    return reverse("console:api-chain", args=[api.pk]) + (f"#{anchor}" if anchor else "")


def _render(request, api: Api, bound: dict | None = None, status: int = 200) -> HttpResponse:
    bound = bound or {}
    singletons = []
    for kind, (model, form_class, title) in SINGLETONS.items():
        instance = model.objects.filter(api=api).first()
        form = bound.get(kind) or form_class(instance=instance)
        singletons.append({"kind": kind, "title": title, "form": form, "configured": instance})
    targets = list(UpstreamTarget.objects.filter(api=api))
    reported = states([target.id for target in targets])
    context = {
        "api": api,
        "singletons": singletons,
        "targets": [(target, reported.get(target.id)) for target in targets],
        "target_form": bound.get("target") or TargetForm(),
        "transformations": Transformation.objects.filter(api=api).select_related("route"),
        "transformation_form": bound.get("transformation") or TransformationForm(api=api),
    }
    return render(request, "console/policies/chain.html", context, status=status)


@require_GET
@role_required(Action.VIEW_POLICIES)
def chain(request: HttpRequest, pk: int) -> HttpResponse:
    return _render(request, get_object_or_404(Api, pk=pk))


def _save(request, api, kind, form, anchor) -> HttpResponse:
    if form.is_valid():
        try:
            services.save_policy(form.save(commit=False), request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect(_chain_url(api, anchor))
    messages.error(request, "Not saved: see the errors below.")
    return _render(request, api, {kind: form}, status=400)


@require_POST
@role_required(Action.SAVE_POLICIES)
def singleton_save(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    if kind not in SINGLETONS:
        raise Http404
    api = get_object_or_404(Api, pk=pk)
    model, form_class, _ = SINGLETONS[kind]
    instance = model.objects.filter(api=api).first() or model(api=api)
    if "remove" in request.POST:
        if instance.pk is not None:
            services.delete_policy(instance, request.user)
            messages.success(request, "Removed.")
        return redirect(_chain_url(api, kind))
    return _save(request, api, kind, form_class(request.POST, instance=instance), kind)


@require_POST
@role_required(Action.SAVE_POLICIES)
def target_add(request: HttpRequest, pk: int) -> HttpResponse:
    api = get_object_or_404(Api, pk=pk)
    form = TargetForm(request.POST, instance=UpstreamTarget(api=api))
    return _save(request, api, "target", form, "targets")


@require_POST
@role_required(Action.SAVE_POLICIES)
def transformation_add(request: HttpRequest, pk: int) -> HttpResponse:
    api = get_object_or_404(Api, pk=pk)
    form = TransformationForm(request.POST, instance=Transformation(api=api), api=api)
    return _save(request, api, "transformation", form, "transformations")


@require_POST
@role_required(Action.SAVE_POLICIES)
def item_delete(request: HttpRequest, pk: int, kind: str, item_pk: int) -> HttpResponse:
    api = get_object_or_404(Api, pk=pk)
    model = {"targets": UpstreamTarget, "transformations": Transformation}.get(kind)
    if model is None:
        raise Http404
    services.delete_policy(get_object_or_404(model, pk=item_pk, api=api), request.user)
    messages.success(request, "Deleted.")
    return redirect(_chain_url(api, kind))
