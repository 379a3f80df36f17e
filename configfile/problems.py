"""What is wrong with a configuration file, each problem with its place in the file."""

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One problem: `where` names the resource and field (`apis[/pets/v1].routes[GET /x]`)."""

    where: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        at = f" (line {self.line})" if self.line else ""
        return f"{self.where or 'file'}{at}: {self.message}"

    def as_dict(self) -> dict:
        return {"where": self.where or "file", "line": self.line, "message": self.message}


class ConfigInvalid(Exception):
    """The file cannot be applied; nothing was changed. `problems` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        count = len(problems)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} in the configuration file; "
            "nothing was changed."
        )

    def report(self) -> str:
        return "\n".join([str(self), *(f"  - {problem}" for problem in self.problems)])
