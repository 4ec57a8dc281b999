"""The seed's example: a plain Python module, with nothing of Piton in it.

Its type hints are all Node needs to check its calls: `npx piton types` turns them into
piton-types.d.ts, beside this file."""


def fib(n: int) -> int:
    if n < 0: raise Exception("No negative values !!!")
    if n == 0: return 0
    if n < 3: return 1
    return fib(n - 1) + fib(n - 2)
