"""A stand-in for llama.cpp's server process, for the local provider's lifecycle tests.

    python stand_in_server.py PORT MODE
MODE serve: answers every chat request with REPLY (env) or "ok"; exit: prints a load error
and exits 7 at once; die: ready, then dies (exit 9) on the first chat request; mute: never
answers.  Its pid goes to the file named by STAND_IN_PID, so a test can see it is gone.
"""
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai import FakeOpenAI  # noqa: E402

port, mode = int(sys.argv[1]), sys.argv[2]
if os.environ.get("STAND_IN_PID"):
    Path(os.environ["STAND_IN_PID"]).write_text(str(os.getpid()))
if mode == "exit":
    print("llama_model_load: error loading model: invalid magic", flush=True)
    sys.exit(7)
if mode == "mute":
    time.sleep(600)
server = FakeOpenAI(port)
replies = json.loads(os.environ.get("REPLIES", '["ok"]'))
server.script = [{"reply": r} for r in replies * 20]
if mode == "die":

    def dying(handler):
        print("GGML_ASSERT failed", flush=True)
        os._exit(9)
    server.server.RequestHandlerClass.do_POST = dying
with server:
    while True:
        time.sleep(1)
