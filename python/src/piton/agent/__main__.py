"""``python -m piton.agent``: run the agent (see :mod:`piton.agent.service`)."""
from .service import main

main()
