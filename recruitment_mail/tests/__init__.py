from . import test_bounce
from . import test_delivery
from . import test_email_tab
from . import test_outbox
from . import test_outbox_access
from . import test_scheduled_email
from . import test_sent_items
from . import test_ui_tours
