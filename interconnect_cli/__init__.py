"""`interconnect`: the command line for platform engineers and pipelines, over the app's REST API.

It plans, submits, follows and decides link requests, plans and applies topology documents, reads links, audits
and the topology, and exits with a code a pipeline can branch on (exits.py). It speaks HTTP only: nothing of the
app (`interconnect`) or of the local cloud (`localdev`) is imported, so it installs on its own (`pipx install .`)
with four dependencies.

    config.py    where the app's URL, scope and key come from: flags > environment > config file profile
    auth.py      the function key, Entra tokens (azure-identity) and the local cloud's demo identities
    api.py       the REST API over httpx: one method per route, errors as ApiError with the app's code
    follow.py    following a request (or an audit run) until it ends, each audit-trail step as it appears
    render.py    rich tables for a terminal; --output json prints the API's JSON and nothing else
    estate.py    links as code: the topology document, the plan file, plans and change sets (rich and Markdown)
    exits.py     the exit codes
    commands.py  the click commands
"""
