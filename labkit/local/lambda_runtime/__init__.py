"""The local Lambda runtime: execution environments for the handler files, Kinesis event source mappings
with AWS's semantics, and function logs. `LambdaRuntime` is the stack component."""
from .runtime import LambdaRuntime

__all__ = ["LambdaRuntime"]
