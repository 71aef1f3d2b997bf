"""AWS SnapStart's hook API (the snapshot-restore-py package) on Cella's templates: code written
for SnapStart runs its hooks when Cella parks a template and when it clones one
(docs/runtime-snapshots.md). On a plain instance the hooks never run, as on Lambda without
SnapStart."""

from cella_runtime import register_after_clone as register_after_restore
from cella_runtime import register_before_park as register_before_snapshot

__all__ = ["register_after_restore", "register_before_snapshot"]
