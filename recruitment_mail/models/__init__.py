from . import ir_mail_server
from . import mail_mail
from . import res_config_settings
