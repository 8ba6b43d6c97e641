from . import jobs_by_email
from . import mail_compose_message
from . import mail_reschedule
