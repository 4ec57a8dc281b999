"""The per-host agent (``python -m piton.agent``): it starts interpreters on this host for the Node
processes whose CURVE keys it allows.

- :mod:`piton.agent.service`: the agent's loop (its ROUTER socket, links, heartbeats, children);
- :mod:`piton.agent.children`: the interpreters it runs, each in a process group of its own;
- :mod:`piton.agent.protocol`: the control protocol it speaks with Node (shared vectors hold both
  sides to the same bytes).
"""
