"""Prints the CPYTHON_TRACES table of tests/barrier.rs: random scripts of operations on
asyncio.Barrier and the trace CPython gives for each (see the table's doc comment there).

    python3.11 tests/cpython_traces/barrier.py [count [seed]] [--same-turn]

With no arguments it prints the committed table (60 scripts, seed 0x5ca1e). A seed given
also widens the scripts (1 to 4 parties, up to 30 operations), for a longer hunt.
`--same-turn`: a cancellation, a reset and an abort take no loop turn (`60 --same-turn` is
the committed second table).
"""
import asyncio
import random
import re
import sys

SAME_TURN = '--same-turn' in sys.argv
sys.argv = [a for a in sys.argv if a != '--same-turn']


def run_script(script, parties):
    log = []

    async def main():
        b = asyncio.Barrier(parties)
        tasks = []

        def snap():
            log.append('[' + re.search(r'\[(.*)\]>$', repr(b)).group(1) + ']')

        async def party(pid):
            for n in range(2):
                try:
                    log.append(f'p{pid}.{n}={await b.wait()}')
                except asyncio.BrokenBarrierError as e:
                    log.append(f'p{pid}.{n}=' + ('A' if 'aborted' in str(e) else 'R'))

        for op in script:
            if op == 'S':
                tasks.append(asyncio.create_task(party(len(tasks))))
            elif op.isdigit():
                if int(op) < len(tasks):
                    tasks[int(op)].cancel()
            elif op == 'R':
                await b.reset()
            elif op == 'A':
                await b.abort()
            if not (SAME_TURN and (op.isdigit() or op in 'RA')):
                await asyncio.sleep(0)
            snap()
        for t in tasks:
            t.cancel()
        for _ in range(3):
            await asyncio.sleep(0)
        snap()

    asyncio.run(main())
    return ' '.join(log)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    wide = len(sys.argv) > 2
    rng = random.Random(int(sys.argv[2], 0) if wide else 0x5CA1E)
    ops = ['S'] * 6 + ['Y'] * 3 + ['R', 'A'] + [str(i) for i in range(6)]
    for _ in range(count):
        parties = rng.choice([1, 2, 3, 4] if wide else [2, 3])
        script = ''.join(rng.choice(ops) for _ in range(rng.randint(4, 30 if wide else 14)))
        print(f'    ({parties}, "{script}", "{run_script(script, parties)}"),')


main()
