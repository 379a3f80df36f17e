"""The activation checks of an apply: once, after every kind was applied.

An API the file has active goes through the same checks as the REST API's and the
console's activation (apis/services.py activation_problems, via activate_apis), but
only when the whole file is in: its routes, its policy and its policy chain (a later
kind) are then what the file says. An API that already was active is checked again, as
the file may have changed it. Each refusal is a problem of the file at the API's status.
"""

from apis import services
from configfile.kinds import Context


def activate(context: Context) -> None:
    apis = context.instances["apis"]
    names = {apis[name].pk: name for name in context.activate if name in apis}
    refused = services.activate_apis([apis[name] for name in names.values()], context.actor)
    for api, problems in sorted(refused.items(), key=lambda pair: names[pair[0].pk]):
        name = names[api.pk]
        for problem in problems:
            context.problem(f"apis[{name}].status", f"Cannot be active: {problem}")
