from . import mail_mail
