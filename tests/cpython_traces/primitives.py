"""Prints the Lock, Semaphore, BoundedSemaphore, Event and queue tables of
tests/sync/traces.rs: random scripts of operations and the trace CPython gives for each
(see the tables' doc comments there).

    python3.11 tests/cpython_traces/primitives.py KIND COUNT SEED

KIND: lock, semaphore, bounded, event, queue, lifo, priority. The committed tables use
COUNT 100 and SEED 1.
"""
import asyncio
import random
import sys

TURNS = '--same-turn' in sys.argv
sys.argv = [a for a in sys.argv if a != '--same-turn']

OPS = {
    'lock': 'AAAArrY',
    'semaphore': 'AAAArrY',
    'bounded': 'AAAArrrY',
    'event': 'WWWscY',
    'queue': 'GGPPPgpdJY',
}
OPS['lifo'] = OPS['priority'] = OPS['queue']


def run_script(kind, script):
    log = []

    async def main():
        if kind == 'lock':
            prim = asyncio.Lock()
        elif kind == 'semaphore':
            prim = asyncio.Semaphore(2)
        elif kind == 'bounded':
            prim = asyncio.BoundedSemaphore(2)
        elif kind == 'event':
            prim = asyncio.Event()
        else:
            prim = {'queue': asyncio.Queue, 'lifo': asyncio.LifoQueue,
                    'priority': asyncio.PriorityQueue}[kind](2)
        tasks = []
        item = [0]

        def next_item():
            item[0] += 1
            return (item[0] * 7) % 10  # not in order, for the priority queue

        def snap():
            if kind == 'lock':
                log.append('L' if prim.locked() else 'u')
            elif kind in ('semaphore', 'bounded'):
                log.append(f"{prim._value}{'L' if prim.locked() else 'u'}")
            elif kind == 'event':
                log.append('S' if prim.is_set() else 'c')
            else:
                log.append(f'q{prim.qsize()}')

        async def task(tid, op):
            if op == 'A':
                await prim.acquire()
                log.append(f't{tid}+')
            elif op == 'W':
                await prim.wait()
                log.append(f't{tid}!')
            elif op == 'G':
                log.append(f't{tid}={await prim.get()}')
            elif op == 'P':
                v = next_item()
                await prim.put(v)
                log.append(f't{tid}<{v}')
            elif op == 'J':
                await prim.join()
                log.append(f't{tid}j')

        for op in script:
            if op in 'AWGPJ':
                tasks.append(asyncio.create_task(task(len(tasks), op)))
            elif op.isdigit():
                if int(op) < len(tasks):
                    tasks[int(op)].cancel()
            elif op == 'r':
                if kind == 'lock':
                    if prim.locked():
                        prim.release()
                else:
                    try:
                        prim.release()
                    except ValueError:
                        log.append('E')
            elif op == 's':
                prim.set()
            elif op == 'c':
                prim.clear()
            elif op == 'g':
                try:
                    log.append(f'g{prim.get_nowait()}')
                except asyncio.QueueEmpty:
                    log.append('gE')
            elif op == 'p':
                v = next_item()
                try:
                    prim.put_nowait(v)
                    log.append(f'p{v}')
                except asyncio.QueueFull:
                    log.append('pF')
            elif op == 'd':
                try:
                    prim.task_done()
                    log.append('d')
                except ValueError:
                    log.append('dE')
            if TURNS and not (op.isdigit() or op in 'rscgpd'):
                await asyncio.sleep(0)
            elif not TURNS:
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
    kind, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3], 0)
    rng = random.Random(seed)
    ops = list(OPS[kind]) + [str(i) for i in range(6)]
    for _ in range(count):
        script = ''.join(rng.choice(ops) for _ in range(rng.randint(4, 20)))
        print(f'    ("{script}", "{run_script(kind, script)}"),')


main()
