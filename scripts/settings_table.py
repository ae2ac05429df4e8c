"""Print the configuration table of README.md from `Settings` (one row per VE_* variable)."""

from __future__ import annotations

from pydantic.fields import FieldInfo

from video_enhancer.config import Settings


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if hasattr(value, "get_secret_value"):
        return "(generated in development; required in production)"
    if value is None:
        return "(unset)"
    return f"`{value}`"


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `VE_{name.upper()}` | {_default(field)} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
