"""Code a test runs inside a kernel: it prints the transport Jupyter reaches the kernel by and
the TCP ports the kernel listens on for Jupyter's channels ("ipc []" when it uses IPC only)."""

# ipykernel always listens on one loopback port of its own, which no setting removes: the pipe
# that carries the output of forked subprocesses (each message signed with a random key). It is
# not one of Jupyter's channels, so it is left out.
TRANSPORT_AND_PORTS = """import os
from ipykernel.connect import get_connection_info
from workbook.processes import listening
pipe = get_ipython().kernel.iopub_thread._pipe_port
print(get_connection_info(unpack=True)["transport"],
      [a for a in listening({os.getpid()}) if not a.endswith(f":{pipe}")])"""
EXPECTED = "ipc []\n"
