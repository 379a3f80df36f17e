"""What the console's forms share: fields that make JSON columns typeable, and the model-form
base whose input ids are unique per form."""

import re
from itertools import zip_longest

from django import forms
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string

_SEPARATORS = re.compile(r"[\s,]+")


class WordListField(forms.CharField):
    """A JSON list of strings, typed as words separated by spaces, commas or new lines."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return " ".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list):
            return value
        words = _SEPARATORS.split(super().to_python(value) or "")
        return list(dict.fromkeys(word for word in words if word))


class LineListField(forms.CharField):
    """A JSON list of strings typed one per line (URLs); blank lines are ignored."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list):
            return value
        lines = (super().to_python(value) or "").splitlines()
        return [line.strip() for line in lines if line.strip()]


class KeyValueWidget(forms.Widget):
    """Rows of name/value inputs (`<name>-key`, `<name>-value`), plus blank rows to fill in."""

    template_name = "console/widgets/key_value.html"

    def __init__(self, key_label="Claim", value_label="Value", placeholders=("", ""), attrs=None):
        super().__init__(attrs)
        self.key_label = key_label
        self.value_label = value_label
        self.placeholders = placeholders

    def format_value(self, value):
        return value  # a dict (initial) or a list of pairs (submitted), not a string

    def render(self, name, value, attrs=None, renderer=None) -> str:
        # The project's template engine, which finds templates/console/ (the default
        # form renderer only looks in the apps' and Django's own template folders).
        # render_to_string returns a SafeString: the template escaped every value.
        return render_to_string(self.template_name, self.get_context(name, value, attrs))

    def value_from_datadict(self, data, files, name) -> list[tuple[str, str]]:
        keys = data.getlist(f"{name}-key") if hasattr(data, "getlist") else []
        values = data.getlist(f"{name}-value") if hasattr(data, "getlist") else []
        return list(zip_longest(keys, values, fillvalue=""))

    def value_omitted_from_data(self, data, files, name) -> bool:
        return f"{name}-key" not in data

    def get_context(self, name, value, attrs) -> dict:
        context = super().get_context(name, value, attrs)
        pairs = list(value.items()) if isinstance(value, dict) else list(value or [])
        rows = [(str(k), str(v)) for k, v in pairs if str(k).strip() or str(v).strip()]
        # Forms must work without JavaScript, so a few blank rows are always there.
        blanks = 2 if not rows else 1
        context["widget"].update(
            rows=rows + [("", "")] * blanks,
            key_label=self.key_label,
            value_label=self.value_label,
            key_placeholder=self.placeholders[0],
            value_placeholder=self.placeholders[1],
        )
        return context


class KeyValueField(forms.Field):
    """A flat JSON object of strings edited as rows; blank rows are ignored."""

    widget = KeyValueWidget

    def __init__(self, *, key_label="Claim", value_label="Value", placeholders=("", ""), **kw):
        kw.setdefault("required", False)
        kw.setdefault("widget", KeyValueWidget(key_label, value_label, placeholders))
        super().__init__(**kw)

    def to_python(self, value) -> dict:
        if isinstance(value, dict):
            return value
        result: dict[str, str] = {}
        problems = []
        for key, item in value or []:
            key, item = key.strip(), item.strip()
            if not key and not item:
                continue
            if not key:
                problems.append(f"Give a name for the value {item!r}.")
            elif not item:
                problems.append(f"Give a value for {key}.")
            elif key in result:
                problems.append(f"{key} is listed twice.")
            else:
                result[key] = item
        if problems:
            raise ValidationError(problems)
        return result

    def has_changed(self, initial, data) -> bool:
        return (initial or {}) != self.to_python(data)


class ConsoleModelForm(forms.ModelForm):
    """Model forms whose inputs get ids unique per form, so several can share a page."""

    def __init__(self, *args, **kwargs):
        self.form_id = self.id_for(kwargs.get("instance"))
        kwargs.setdefault("auto_id", f"{self.form_id}-%s")
        super().__init__(*args, **kwargs)

    @classmethod
    def id_for(cls, instance) -> str:
        return cls.__name__.lower().removesuffix("form")
