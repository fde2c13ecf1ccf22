"""`fn serve`: the HTTP server, Lambda's APIs, routes, zygotes and call cgroups."""
