import gc

from server import create_app

app = create_app()

# Everything built at start-up (modules, mappers, schemas, templates) lives as long as the
# process: moved out of the collector's generations, a full collection no longer walks it
# (and forked gunicorn workers do not touch those pages, so they stay shared).
gc.freeze()
