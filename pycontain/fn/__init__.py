"""Python functions with the AWS Lambda contract, each call in a fresh jail.

Shared: jail (a call's OCI spec), environment (Lambda's variables), outcome
(a call's pipes, result, errors and report). By role: injail (what runs
inside a jail: the runner, the zygote; the standard library only), oneshot
(`fn exec` and `fn invoke`: the jail compiled into a description, built in
C), server (`fn serve`: HTTP, Lambda's APIs, routes, zygotes, call cgroups),
registry (created functions, their packages and log streams).
"""
