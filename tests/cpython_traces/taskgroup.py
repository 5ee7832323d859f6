"""Prints the tables of tests/compose/taskgroup_traces.rs: random task groups and how
CPython's asyncio.TaskGroup ends each.

    python3.11 tests/cpython_traces/taskgroup.py COUNT SEED [--cancel | --spawn]

A group's children are `<start turn><turns><F|o>`: started by the body at that turn, ending
after that many turns, failing (`F`, ValueError('c<i>')) or not; the body turns a number of
times, starting children as it goes, then fails (ValueError('body')) or not. With --cancel
the task running the group is cancelled after a number of turns. The outcome: `ok`,
`cancelled` or `group:<names>`, then the children that ended normally and those cancelled.
With --spawn a child may also be `S`: as it ends it starts a grandchild `10 + i` of one turn
through the group (`refused` lists those whose create_task raised), and a third of the groups
are cancelled. The committed tables: `150 3`, `150 5 --cancel` and `150 7 --spawn`.
"""
import asyncio
import random
import sys

CANCEL = '--cancel' in sys.argv
SPAWN = '--spawn' in sys.argv
ARGS = [a for a in sys.argv[1:] if not a.startswith('--')]


def run_group(children, bturns, bfail, cancel_at):
    seen = {'done': [], 'cancelled': [], 'refused': []}

    async def child(g, i, k, kind):
        try:
            for _ in range(k):
                await asyncio.sleep(0)
            if kind == 'F':
                raise ValueError(f'c{i}')
            if kind == 'S':
                try:
                    g.create_task(child(g, 10 + i, 1, 'o'))
                except RuntimeError:
                    seen['refused'].append(i)
            seen['done'].append(i)
        except asyncio.CancelledError:
            seen['cancelled'].append(i)
            raise

    async def group():
        out = ['ok']
        try:
            async with asyncio.TaskGroup() as g:
                for t in range(bturns + 1):
                    for i, (start, k, kind) in enumerate(children):
                        if start == t:
                            g.create_task(child(g, i, k, kind))
                    if t < bturns:
                        await asyncio.sleep(0)
                if bfail:
                    raise ValueError('body')
        except* ValueError as eg:
            out[0] = 'group:' + ','.join(str(e) for e in eg.exceptions)
        return out[0]

    async def main():
        runner = asyncio.create_task(group())
        if cancel_at is None:
            return await runner
        for _ in range(cancel_at):
            await asyncio.sleep(0)
        runner.cancel()
        try:
            return await runner
        except asyncio.CancelledError:
            return 'cancelled'

    outcome = asyncio.run(main())
    trace = f"{outcome} done={sorted(seen['done'])} cancelled={sorted(seen['cancelled'])}"
    if any(kind == 'S' for _, _, kind in children):
        trace += f" refused={sorted(seen['refused'])}"
    return trace


def main():
    count, seed = int(ARGS[0]), int(ARGS[1], 0)
    rng = random.Random(seed)
    for _ in range(count):
        bturns = rng.randint(0, 4)
        if SPAWN:
            children = [(rng.randint(0, bturns), rng.randint(0, 5), rng.choice('ooFSS'))
                        for _ in range(rng.randint(0, 4))]
        else:
            children = [(rng.randint(0, bturns), rng.randint(0, 5),
                         'F' if rng.random() < 0.3 else 'o') for _ in range(rng.randint(0, 4))]
        bfail = rng.random() < 0.2
        if SPAWN:
            cancel_at = rng.choice([None, None, rng.randint(0, 6)])
        else:
            cancel_at = rng.randint(0, 6) if CANCEL else None
        spec = ';'.join(f'{s}{k}{kind}' for s, k, kind in children)
        fields = [f'"{spec}"', str(bturns), str(bfail).lower()]
        if SPAWN:
            fields.append('None' if cancel_at is None else f'Some({cancel_at})')
        elif CANCEL:
            fields.append(str(cancel_at))
        fields.append(f'"{run_group(children, bturns, bfail, cancel_at)}"')
        print(f'    ({", ".join(fields)}),')


main()
