"""Python that needs Node mid-call: prices come from the Node service, progress goes back to it."""

from typing import List, Tuple, TypedDict

from piton import NodeError, node, progress


class Order(TypedDict):
    id: str
    #: (sku, quantity) pairs.
    lines: List[Tuple[str, int]]


class Invoice(TypedDict):
    id: str
    total: float
    #: The lines Node had no price for, with why.
    missing: List[str]


def totals(orders: List[Order], currency: str = "EUR") -> List[Invoice]:
    """Prices each order's lines with prices only Node has, and reports progress after each order.

    ``node.call('price', sku)`` runs the Node function the pool exposes as ``price``; keyword
    arguments arrive there as one last object (``{ currency }``)."""
    rate = node.call("rate", currency=currency)
    out: List[Invoice] = []
    for done, order in enumerate(orders, start=1):
        total = 0.0
        missing: List[str] = []
        for sku, quantity in order["lines"]:
            try:
                total += node.call("price", sku) * quantity
            except NodeError as exc:  # thrown in Node: name and message come with it
                missing.append(f"{sku} ({exc.name}: {exc.message})")
        out.append({"id": order["id"], "total": round(total * rate, 2), "missing": missing})
        progress({"done": done, "of": len(orders)})
    return out
