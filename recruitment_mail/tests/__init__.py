from . import test_outbox
from . import test_outbox_access
