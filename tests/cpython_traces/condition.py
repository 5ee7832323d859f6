"""Prints the condition tables of tests/sync/traces.rs: random scripts of operations on
asyncio.Condition and the trace CPython gives for each (see the tables' doc comments there).

    python3.11 tests/cpython_traces/condition.py COUNT SEED CANCELS [--port] [--same-turn]

The committed tables: `120 1 0` (no cancellation) and `120 2 1` (with cancellations).
`--port` runs CPython's Condition with the port's documented cancellation applied (a
cancelled wait is a dropped future: it does not take the lock back, and a notification it
had received passes to the next waiter, as CPython 3.13 does), for hunting over many seeds
where plain 3.11 differs only by that decision. `--same-turn`: a cancellation, a notify,
the driver's release and a change of the flag take no loop turn, so the next operation comes
before the tasks they woke or cancelled have run (`120 4 1 --same-turn` is committed).
"""
import asyncio
import random
import sys
from asyncio import exceptions

PORT = '--port' in sys.argv
SAME_TURN = '--same-turn' in sys.argv
ARGS = [a for a in sys.argv[1:] if not a.startswith('--')]


def notify_unlocked(cond, n):
    done = 0
    for fut in cond._waiters:
        if done >= n:
            break
        if not fut.done():
            done += 1
            fut.set_result(False)


async def dropped_wait(self):
    """Condition.wait as the port's ConditionWait behaves when its future is dropped."""
    if not self.locked():
        raise RuntimeError('cannot wait on un-acquired lock')
    self.release()
    fut = self._get_loop().create_future()
    self._waiters.append(fut)
    try:
        await fut
    except exceptions.CancelledError:
        self._waiters.remove(fut)
        if fut.done() and not fut.cancelled():
            notify_unlocked(self, 1)
        raise
    self._waiters.remove(fut)
    try:
        await self.acquire()
    except exceptions.CancelledError:
        notify_unlocked(self, 1)
        raise
    return True


if PORT:
    asyncio.Condition.wait = dropped_wait


def run_script(script):
    log = []

    async def main():
        cond = asyncio.Condition()
        flag = [False]
        tasks = []
        held = [False]

        def snap():
            log.append('L' if cond.locked() else 'u')

        async def waiter(pid, pred):
            await cond.acquire()
            log.append(f'w{pid}+')
            try:
                if pred:
                    await cond.wait_for(lambda: flag[0])
                else:
                    await cond.wait()
            except asyncio.CancelledError:
                if not PORT:
                    cond.release()  # CPython's wait took the lock back before raising
                raise
            log.append(f'w{pid}!')
            cond.release()
            log.append(f'w{pid}-')

        for op in script:
            if op in 'WP':
                tasks.append(asyncio.create_task(waiter(len(tasks), op == 'P')))
            elif op.isdigit():
                if int(op) < len(tasks):
                    tasks[int(op)].cancel()
            elif op in 'nNa':
                n = {'n': 1, 'N': 2, 'a': 99}[op]
                if held[0]:
                    cond.notify(n)
                else:
                    async with cond:
                        cond.notify(n)
            elif op == 'L':
                if not held[0]:
                    await cond.acquire()
                    held[0] = True
            elif op == 'U':
                if held[0]:
                    cond.release()
                    held[0] = False
            elif op in 'TF':
                flag[0] = op == 'T'
            if not (SAME_TURN and (op.isdigit() or op in 'nNaUTF')):
                await asyncio.sleep(0)
            snap()
        if held[0]:
            cond.release()
        for t in tasks:
            t.cancel()
        for _ in range(4):
            await asyncio.sleep(0)
        snap()

    asyncio.run(main())
    return ' '.join(log)


def main():
    count, seed, cancels = int(ARGS[0]), int(ARGS[1], 0), ARGS[2] == '1'
    rng = random.Random(seed)
    ops = ['W'] * 4 + ['P'] * 2 + ['n'] * 3 + ['N', 'a', 'L', 'L', 'U', 'U', 'T', 'F', 'Y', 'Y']
    if cancels:
        ops += [str(i) for i in range(5)]
    for _ in range(count):
        script = ''.join(rng.choice(ops) for _ in range(rng.randint(4, 20)))
        print(f'    ("{script}", "{run_script(script)}"),')


main()
