"""Every process started together on a fresh machine signs with the same generated key.

`make run` and the fault drills start the listeners, worker and beat at once; before this,
each could see no key file and write its own, and another could read the file while it was
still empty: the drill's portal answered 500 "The SECRET_KEY setting must not be empty"."""

import threading

from portal.settings import secret_key_file

ROUNDS, STARTERS = 20, 16


def test_starters_racing_on_a_fresh_machine_share_one_generated_key(tmp_path):
    for round_ in range(ROUNDS):
        path = tmp_path / f"round-{round_}" / "secret_key"
        path.parent.mkdir()
        barrier = threading.Barrier(STARTERS)
        keys: list[str] = []

        def start(path=path, barrier=barrier, keys=keys):
            barrier.wait()
            keys.append(secret_key_file(path))

        threads = [threading.Thread(target=start) for _ in range(STARTERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(set(keys)) == 1 and len(keys[0]) > 40, (round_, set(keys))
        assert path.read_text().strip() == keys[0]
        assert path.stat().st_mode & 0o777 == 0o600
        assert [p.name for p in path.parent.iterdir()] == ["secret_key"]
