"""The Django admin writes through the services, like the REST API and the console."""

from collections.abc import Callable

from django.db import transaction


def _many_to_many(form) -> dict:
    names = {field.name for field in form.instance._meta.many_to_many}
    return {name: value for name, value in form.cleaned_data.items() if name in names}


class ServiceAdminMixin:
    """Every add, change and delete of the admin goes through `save_resource` and
    `delete_resource` (the resource's services, as staticmethods), so it is validated,
    audited and announced by core/changes.py.

    `inline_services` maps each editable inline's model to its (save, delete) services;
    inlines not listed are read-only and nothing of theirs is saved.
    """

    save_resource: Callable
    delete_resource: Callable
    inline_services: dict = {}

    def save_model(self, request, obj, form, change) -> None:
        pass  # saved by save_related(), once the many-to-many values are known

    def save_related(self, request, form, formsets, change) -> None:
        self.save_resource(form.instance, request.user, **_many_to_many(form))
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request, form, formset, change) -> None:
        # Fills new_objects, deleted_objects and saved_forms (the admin's change message
        # reads them) and writes nothing.
        formset.save(commit=False)
        services = self.inline_services.get(formset.model)
        if services is None:
            return  # a read-only inline
        save, delete = services
        for instance in formset.deleted_objects:
            delete(instance, request.user)
        for inline_form in formset.saved_forms:
            save(inline_form.instance, request.user, **_many_to_many(inline_form))

    def delete_model(self, request, obj) -> None:
        self.delete_resource(obj, request.user)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for obj in queryset:
                self.delete_resource(obj, request.user)
