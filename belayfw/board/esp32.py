# The `esp32` module of the emulator's esp32 profile: the functions programs
# commonly call. What drives ESP32 hardware the emulator does not have (RMT,
# ULP, partitions, NVS) is absent, as on a build without it.

HEAP_DATA = 4
HEAP_EXEC = 1
WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True


def raw_temperature():
    # The internal sensor's raw reading (degrees Fahrenheit on the ESP32): room temperature.
    return 77



def idf_heap_info(capabilities):
    import gc
    free = gc.mem_free()
    total = free + gc.mem_alloc()
    return [(total, free, free, free)]


def wake_on_touch(wake):
    pass


def wake_on_ulp(wake):
    pass


def wake_on_ext0(pin, level):
    pass


def wake_on_ext1(pins, level):
    pass


def gpio_deep_sleep_hold(enable):
    pass
