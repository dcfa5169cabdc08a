"""Every page router, in the order they are mounted."""

from mtb.web.admin import router as admin_router
from mtb.web.admin_channels import router as admin_channels_router
from mtb.web.applicant import router as applicant_router
from mtb.web.staff import router as staff_router

PAGE_ROUTERS = [applicant_router, staff_router, admin_router, admin_channels_router]
