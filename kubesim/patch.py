"""PATCH bodies: JSON merge patch, a strategic-merge subset, and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
import json
from typing import Any

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
SUPPORTED = (MERGE, STRATEGIC, JSON_PATCH)


class PatchError(ValueError):
    """A patch that cannot be applied; `code` is the HTTP status the API server would use."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.code = code


def apply(content_type: str, target: dict[str, Any], raw: bytes) -> dict[str, Any]:
    try:
        patch = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise PatchError(f"error decoding patch: {exc}", 400) from exc
    if content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise PatchError("json patch must be a list of operations", 400)
        return _json_patch(copy.deepcopy(target), patch)
    if not isinstance(patch, dict):
        raise PatchError("merge patch must be a JSON object", 400)
    return _merge(copy.deepcopy(target), patch, strategic=content_type == STRATEGIC)


def _merge(target: Any, patch: Any, *, strategic: bool) -> Any:
    """RFC 7386 merge. For strategic merge, `$`-directives are dropped and lists of objects
    with a `name` key are merged by name (how containers, conditions and volumes behave);
    other lists are replaced, which is what kubectl cordon/drain need."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if strategic and key.startswith("$"):
            continue
        if value is None:
            target.pop(key, None)
        elif (
            strategic
            and isinstance(value, list)
            and isinstance(target.get(key), list)
            and all(isinstance(v, dict) and ("name" in v or "type" in v) for v in value)
        ):
            target[key] = _merge_list(target[key], value)
        else:
            target[key] = _merge(target.get(key), value, strategic=strategic)
    return target


def _merge_list(current: list[Any], patch: list[dict[str, Any]]) -> list[Any]:
    merge_key = "name" if all("name" in v for v in patch) else "type"
    result = list(current)
    for item in patch:
        for i, existing in enumerate(result):
            if isinstance(existing, dict) and existing.get(merge_key) == item.get(merge_key):
                if item.get("$patch") == "delete":
                    result.pop(i)
                else:
                    result[i] = _merge(existing, item, strategic=True)
                break
        else:
            if item.get("$patch") != "delete":
                result.append({k: v for k, v in item.items() if not k.startswith("$")})
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(doc, list):
            try:
                doc = doc[int(part)]
            except (ValueError, IndexError):
                raise PatchError(f"index {part!r} out of range") from None
        elif isinstance(doc, dict):
            if part not in doc:
                raise PatchError(f"path component {part!r} not found")
            doc = doc[part]
        else:
            raise PatchError(f"cannot descend into {part!r}")
    return doc


def _json_patch(doc: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError("each operation needs 'op' and 'path'", 400)
        kind, parts = op["op"], _pointer(op["path"])
        if not parts:
            raise PatchError("patching the document root is not supported")
        parent = _walk(doc, parts[:-1])
        last = parts[-1]
        if kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise PatchError(f"testing value {op['path']} failed")
        elif kind == "remove":
            _remove(parent, last)
        elif kind in ("add", "replace"):
            if kind == "replace":
                _walk(doc, parts)  # must exist
            _add(parent, last, copy.deepcopy(op.get("value")), replace=kind == "replace")
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = copy.deepcopy(_walk(doc, src))
            if kind == "move":
                _remove(_walk(doc, src[:-1]), src[-1])
            _add(_walk(doc, parts[:-1]), last, value, replace=False)
        else:
            raise PatchError(f"unknown JSON patch operation {kind!r}", 400)
    return doc


def _add(parent: Any, key: str, value: Any, *, replace: bool) -> None:
    if isinstance(parent, list):
        if key == "-":
            parent.append(value)
            return
        try:
            index = int(key)
        except ValueError:
            raise PatchError(f"invalid index {key!r}") from None
        if replace:
            parent[index] = value
        else:
            parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[key] = value
    else:
        raise PatchError(f"cannot set {key!r}")


def _remove(parent: Any, key: str) -> None:
    try:
        if isinstance(parent, list):
            parent.pop(int(key))
        else:
            del parent[key]
    except (KeyError, ValueError, IndexError, TypeError):
        raise PatchError(f"unable to remove nonexistent key: {key}") from None
