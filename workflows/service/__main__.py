"""`python -m workflows.service serve|keys ...`: the service's commands without the root `shipbrain` command."""

from workflows.service.cli import service_app

service_app(prog_name="python -m workflows.service")
