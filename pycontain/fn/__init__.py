"""Python functions with the AWS Lambda contract, each call in a fresh jail.

runner (in the jail: the handler contract), jail (its OCI spec), invoke (one
call: spawn, collect, time out), environment, options (`fn exec`), functions
and package (stored function packages from zip files).
"""
