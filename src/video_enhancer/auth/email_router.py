"""HTTP routes: /auth/verify-email and /auth/password-reset (the links mailed to users).

Plain `def` endpoints: FastAPI runs them in its thread pool, which keeps bcrypt off the event loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from video_enhancer.api.deps import CurrentUser, SessionDep, SettingsDep
from video_enhancer.api.schemas import error_responses
from video_enhancer.auth import account_email
from video_enhancer.auth.email_schemas import (
    EmailTokenRequest,
    EmailVerified,
    NewPasswordRequest,
    PasswordResetRequest,
)

router = APIRouter()


@router.post(
    "/verify-email/request",
    operation_id="requestEmailVerification",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    responses=error_responses(401, 409, 429),
    summary="Mail the signed-in user a link that confirms their email address",
)
def request_email_verification(user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Response:
    account_email.request_email_verification(session, user, settings)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/verify-email",
    operation_id="verifyEmail",
    response_model=EmailVerified,
    responses=error_responses(400),
    summary="Confirm an email address with the token from the mailed link (single use)",
)
def verify_email(body: EmailTokenRequest, session: SessionDep) -> EmailVerified:
    account_email.verify_email(session, body.token)
    return EmailVerified()


@router.post(
    "/password-reset/request",
    operation_id="requestPasswordReset",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    responses=error_responses(400, 429),
    summary="Mail a password reset link; always 202, whether or not the email has an account",
)
def request_password_reset(
    body: PasswordResetRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    client_ip = request.client.host if request.client else None
    account_email.request_password_reset(session, body.email, client_ip, settings)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/password-reset",
    operation_id="resetPassword",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(400),
    summary="Set a new password with the token from the mailed link; signs out every device",
)
def reset_password(body: NewPasswordRequest, session: SessionDep, settings: SettingsDep) -> Response:
    account_email.reset_password(session, body.token, body.new_password, settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
