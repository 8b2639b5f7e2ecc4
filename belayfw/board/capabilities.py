# Capability detection (MicroPython), one round trip: what this board is and
# can do. Runs inside _bfw_c, so it evaluates to the dict returned at the end.
def _bfw_caps():
    import sys
    import gc
    features = {}
    try:
        import _thread
        features['threads'] = True
    except ImportError:
        features['threads'] = False
    for emitter in ('native', 'viper'):
        try:
            exec('@micropython.' + emitter + '\ndef _bfw_probe_emitter():\n    pass\n', {'micropython': __import__('micropython')})
            features[emitter] = True
        except Exception:
            features[emitter] = False
    try:
        import os
        os.listdir('.')
        features['filesystem'] = True
    except Exception:
        features['filesystem'] = False
    try:
        features['float'] = float('1.5') == 1.5
    except Exception:
        features['float'] = False
    try:
        features['bigint'] = (1 << 70) > 0
    except Exception:
        features['bigint'] = False
    gc.collect()
    impl = sys.implementation
    return {
        'implementation': impl.name,
        'version': '.'.join(str(part) for part in impl.version[:3]),
        'firmware': sys.version,
        'machine': getattr(impl, '_machine', ''),
        'platform': sys.platform,
        'features': features,
        'mem_free': gc.mem_free(),
        'mem_alloc': gc.mem_alloc(),
    }
