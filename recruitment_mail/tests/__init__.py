from . import test_outbox
from . import test_outbox_access
from . import test_sent_items
