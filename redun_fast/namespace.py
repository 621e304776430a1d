"""redun's namespace helpers: the namespace of tasks defined from now on."""
from redun_fast.task import get_current_namespace, namespace

__all__ = ["get_current_namespace", "namespace"]
