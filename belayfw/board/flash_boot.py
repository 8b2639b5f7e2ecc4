# Start-up of an emulator board (MicroPython unix port), run with `-i -c` before
# the REPL starts, so before any host or user code. Unconfined, the unix port's
# "/" is the HOST's root; this replaces it with the board's own flash: a
# LittleFS2 file system on a block device backed by an image file, plus a
# read-only ROM file system at /rom holding belayfw's board modules (the
# `machine` shim), as MicroPython ports with ROMFS mount it.
#
# The host appends the call with the image path, block size and count, whether
# to format, the ROM image path and the platform the board's profile imitates. Both files are opened while the host root is
# still mounted; the host root is unmounted right after, whatever happens next.
# If anything fails the board kills itself: with `-i` the unix port would go on
# to its REPL (SystemExit included), and a board must never run with the host
# root, or with no file system the host does not know about.


def _bfw_boot(image, block_size, blocks, fresh, rom, platform):
    import vfs
    import os

    try:
        try:
            f = open(image, 'r+b')
            rom = open(rom, 'rb').read()
        finally:
            vfs.umount('/')

        class Flash:
            # The block protocol of vfs.VfsLfs2, extended form (offsets within a block).
            def readblocks(self, block, buf, offset=0):
                f.seek(block * block_size + offset)
                f.readinto(buf)

            def writeblocks(self, block, buf, offset=0):
                f.seek(block * block_size + offset)
                f.write(buf)

            def ioctl(self, op, arg):
                if op == 4:
                    return blocks
                if op == 5:
                    return block_size
                # init, deinit, erase need nothing; sync neither: writes go
                # straight to the file (flush would fsync, costing milliseconds).
                return 0

        flash = Flash()
        if fresh:
            vfs.VfsLfs2.mkfs(flash)
        vfs.mount(vfs.VfsLfs2(flash), '/')
        vfs.mount(vfs.VfsRom(rom), '/rom')
        os.chdir('/')
        if platform != 'linux':
            _bfw_platform(platform)
    except BaseException as e:
        print('belayfw: the board flash %s did not mount (%r); the board stops' % (image, e))
        os.system('kill -9 $PPID')


def _bfw_platform(platform):
    # sys.platform is fixed in the unix port's build ("linux") and its sys module
    # is read-only; `import sys` looks in sys.modules first, so a stand-in there
    # makes every later `import sys` see the board's platform. Everything else
    # it fetches from the real module (sys.stdout, sys.path... are the same objects).
    import sys

    class Sys:
        def __getattr__(self, name):
            return getattr(sys, name)

    stand_in = Sys()
    stand_in.platform = platform
    stand_in.__name__ = 'sys'
    sys.modules['sys'] = stand_in
