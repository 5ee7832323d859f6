"""Prints the table of tests/timeouts/traces.rs: a task runs `asyncio.timeout_at(when)`
around a body of a few turns while a driver moves the deadline or cancels the task, one
operation per loop turn, and CPython's trace of `expired()`, the body's end and the outcome.

    python3.11 tests/cpython_traces/timeouts.py COUNT SEED [--plain]

Deadline kinds: `N` none, `Z` now, `H` an hour away; with --plain only `z`, a deadline of
now with no handle kept (our `timeout_at`, wait_for's shape). The committed table is
`120 2` followed by `40 3 --plain`.
"""
import asyncio
import random
import sys

KINDS = 'z' if '--plain' in sys.argv else 'NZH'
ARGS = [a for a in sys.argv[1:] if not a.startswith('--')]


def run_script(kind, k, ops):
    log = []

    async def main():
        loop = asyncio.get_running_loop()
        cms = []

        async def scoped():
            when = None if kind == 'N' else loop.time() + (3600 if kind == 'H' else 0)
            try:
                async with asyncio.timeout_at(when) as cm:
                    if kind != 'z':
                        cms.append(cm)
                    for _ in range(k):
                        await asyncio.sleep(0)
                    log.append('b')
                return 'ok'
            except TimeoutError:
                return 'timeout'

        r = asyncio.create_task(scoped())

        def snap():
            log.append(('x' if cms[0].expired() else '-') if cms else '.')

        for op in ops:
            if op == 'C':
                r.cancel()
            elif op in 'PNH' and cms:
                when = {'P': loop.time(), 'N': None, 'H': loop.time() + 3600}[op]
                try:
                    cms[0].reschedule(when)
                except RuntimeError:
                    log.append('E')
            await asyncio.sleep(0)
            snap()
        for _ in range(k + 3):
            await asyncio.sleep(0)
        try:
            out = await r
        except asyncio.CancelledError:
            out = 'cancelled'
        log.append(out)
        snap()

    asyncio.run(main())
    return ' '.join(log)


def main():
    count, seed = int(ARGS[0]), int(ARGS[1], 0)
    rng = random.Random(seed)
    for _ in range(count):
        kind = rng.choice(KINDS)
        k = rng.randint(0, 4)
        ops = ''.join(rng.choice('YYYPNHC') for _ in range(rng.randint(0, 6)))
        print(f"    ('{kind}', {k}, \"{ops}\", \"{run_script(kind, k, ops)}\"),")


main()
