"""The smallest belayfw program: open a board, run code on it, read values back.

Runs on the embedded emulator when no board is attached:

    python examples/hello_board.py [PORT]
"""

import sys

from belayfw import Device, DeviceError, TaskTimeout

port = sys.argv[1] if len(sys.argv) > 1 else "emulator"

with Device(port) as board:
    print(
        "board says:",
        board.exec("import sys\nprint(sys.implementation.name, sys.platform)").strip(),
    )
    board.exec("readings = [n * n for n in range(10)]")
    print("sum of squares on the board:", board.eval("sum(readings)"))
    print("free memory:", board.eval("__import__('gc').mem_free()"), "bytes")
    try:
        board.eval("1 / 0")
    except DeviceError as error:
        print("board error, reported on the host:", error.type_name, "-", error.message)
    try:
        board.exec("while True:\n    pass\n", timeout=0.2)
    except TaskTimeout:
        print("runaway loop interrupted; board still answers:", board.eval("'yes'"))
    print("link:", board.link_stats)
