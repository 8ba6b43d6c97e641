from . import ir_mail_server
from . import mail_about_mixin
from . import mail_mail
from . import res_config_settings
from . import res_partner
from . import hr_candidate
from . import hr_job
from . import hr_applicant
