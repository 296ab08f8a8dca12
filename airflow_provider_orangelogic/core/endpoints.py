"""Orange Logic endpoint paths, relative to the instance's URL: the one place they are spelled out.

Plain constants with no imports, so the stand-in (standard library only) and
``get_provider_info`` (imported at provider discovery) can use them too.
"""

AUTHORIZE = "/oauth2/auth"
TOKEN = "/webapi/security/oauth2/token_48I_v1"
CLIENT_CREDENTIALS = "/webapi/security/clientcredentialsauthentication/authenticate_46H_v1"
SEARCH = "/API/search/v4.0/search"
